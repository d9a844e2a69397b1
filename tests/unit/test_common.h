/* Shared includes for the cmocka unit tests. */
#ifndef SBX_TEST_COMMON_H
#define SBX_TEST_COMMON_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* A fresh temporary directory (mkdtemp) under $TMPDIR or /tmp; the caller removes it with
 * test_rmtree. Returns a malloc'd path. */
char *test_tmpdir(void);
void test_rmtree(const char *path);

#endif
