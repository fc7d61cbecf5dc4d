/* usage.c: vpsd --help. */
#pragma once

#include <stdio.h>

void vpsd_usage(FILE *f);
