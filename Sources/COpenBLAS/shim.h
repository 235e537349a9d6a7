// OpenBLAS (Debian's pthread build). cblas.h lives in an arch-specific folder that
// pkg-config's `openblas` entry puts on the include path.
#ifndef FUNAD_COPENBLAS_SHIM_H
#define FUNAD_COPENBLAS_SHIM_H
#include <cblas.h>
#endif
