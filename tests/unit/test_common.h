/* Shared includes for the cmocka unit tests. */
#ifndef SBX_TEST_COMMON_H
#define SBX_TEST_COMMON_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/test_helpers.h"

#endif
