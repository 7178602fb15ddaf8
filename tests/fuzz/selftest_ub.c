/*
 * selftest_ub.c --
 *
 *	A check of the fuzz build itself, run by "make fuzz" before the
 *	real targets: a fuzz target with a planted signed overflow, built
 *	with the same flags (FUZZ_FLAGS). The run must fail on its first
 *	input. If it passes, undefined behaviour would only be printed and
 *	the fuzzers could not find it: "make fuzz" then fails.
 */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(
    const uint8_t *data,
    size_t size)
{
    volatile int big = 0x7fffffff;
    int step = 1;

    if (size > 0) {
	step += data[0] & 1;
    }
    return (big + step) > 0 ? 0 : 0;	/* Overflows: UB, must be fatal. */
}
