// GNU FriBidi, the Unicode bidirectional algorithm: the MuPDF shim puts right-to-left lines into reading order.
// Debian installs the header as <fribidi/fribidi.h>, with -I/usr/include/fribidi from pkg-config.
#ifndef RAG_FRIBIDI_SHIM_H
#define RAG_FRIBIDI_SHIM_H
#include <fribidi.h>
#endif
