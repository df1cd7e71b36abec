/* SPDX-License-Identifier: MIT */
/* Printing a reply's key=value pairs as aligned text for people or one JSON object for programs:
 * parctl and pard-mpi print results the same way through these. */
#ifndef PARD_OUTPUT_H
#define PARD_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include "pard/protocol.h"

/* Prints r's key=value pairs to f: one aligned "key  value" line each, or with json one JSON
 * object on one line. */
void output_pairs(FILE *f, bool json, const struct pard_reply *r);
/* Prints one JSON value: a number when v is one, else a string. */
void output_json_value(FILE *f, const char *v);
/* Prints a JSON object of r's pairs (no newline). */
void output_json_object(FILE *f, const struct pard_reply *r);

#endif
