/* blas.h: the BLAS calls of the CPU kernels, in the build's precision. */
#ifndef SLUICE_KERNELS_BLAS_H
#define SLUICE_KERNELS_BLAS_H

#include <cblas.h>

#ifdef SLUICE_REAL_DOUBLE
#define GEMM cblas_dgemm
#else
#define GEMM cblas_sgemm
#endif

/* Columns handled together when a reduction runs over rows. */
#define KERN_COL_CHUNK 64

#endif
