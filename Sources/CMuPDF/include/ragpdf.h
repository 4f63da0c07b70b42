#ifndef RAGPDF_H
#define RAGPDF_H
int ragpdf_placeholder(void);
#endif
