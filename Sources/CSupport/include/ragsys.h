// Small system calls Swift's Glibc module does not expose.
#pragma once

/// Names the calling thread (Linux keeps the first 15 bytes; shown by top, ps -L and gdb). Returns 0 on success.
/// pthread_setname_np is a GNU extension, hidden from Swift's Glibc module, so it is called from C.
int ragsys_set_thread_name(const char *_Nonnull name);
