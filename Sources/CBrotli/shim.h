#ifndef STRATA_CBROTLI_SHIM_H
#define STRATA_CBROTLI_SHIM_H
#include <brotli/encode.h>
#include <brotli/decode.h>
#endif
