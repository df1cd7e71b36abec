/* SPDX-License-Identifier: MIT */
/* Numbers as decimal text without printf: every result line of a small job carries three or four
 * of them, and glibc's floating-point printf (exact, multi-precision) cost more daemon
 * instructions per `RUN pi 1000` than the rest of the job together (docs/performance.md). The
 * output is byte for byte what printf gives. */
#ifndef PARD_DECIMAL_H
#define PARD_DECIMAL_H

#include <stddef.h>
#include <stdint.h>

/* Writes v in decimal at out (no NUL; out has room for 20 digits); returns the digits written. */
size_t pard_put_u64(char *out, uint64_t v);

/* Nanoseconds as seconds with 6 decimals ("0.000123"), as printf("%.6f", ns / 1e9) prints it
 * except that a value halfway between two microseconds is rounded up. Returns the length, or
 * -1 when buf is too small. */
int pard_format_seconds(char *buf, size_t len, uint64_t ns);

/* printf("%.*f", decimals, v) and printf("%.*e", digits, v): the same text, the exact binary
 * value rounded half to even. The common range (0 <= v < 1e9 with up to 10 decimals; 0 < v <
 * 1e4 with up to 6 digits) is done with integer arithmetic, the rest
 * (exponents below -13 or so too) by snprintf. Return snprintf's value: the length the text needs. */
int pard_format_fixed(char *buf, size_t len, double v, unsigned decimals);
int pard_format_exp(char *buf, size_t len, double v, unsigned digits);

#endif
