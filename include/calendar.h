/* SPDX-License-Identifier: MIT */
#pragma once

/* Calendar arithmetic (proleptic Gregorian, days since 1970-01-01): time zones, local dates and
 * the UTC timestamps of every payload share it. */

#include <stdint.h>

int64_t days_from_civil(int year, int month, int day);
void civil_from_days(int64_t days, int *ret_year, int *ret_month, int *ret_day);
