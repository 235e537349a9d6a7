// libjpeg-turbo 2.1's TurboJPEG API (tj*; the tj3* API does not exist in this version).
// Classic jpeglib.h is avoided: its default error handler exits the process.
#ifndef FUNAD_CTURBOJPEG_SHIM_H
#define FUNAD_CTURBOJPEG_SHIM_H
#include <turbojpeg.h>
#endif
