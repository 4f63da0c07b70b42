#include "ragpdf.h"
#include <mupdf/fitz.h>
int ragpdf_placeholder(void) { fz_context *ctx = fz_new_context(NULL, NULL, FZ_STORE_DEFAULT); if (!ctx) return -1; fz_drop_context(ctx); return 0; }
