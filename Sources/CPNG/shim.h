// libpng 1.6. Only the simplified png_image_* API is used: the classic API needs setjmp,
// which Swift cannot call safely.
#ifndef FUNAD_CPNG_SHIM_H
#define FUNAD_CPNG_SHIM_H
#include <png.h>
#endif
