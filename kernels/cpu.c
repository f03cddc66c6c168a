/* cpu: the CPU backend's table of kernels. */
#include "kernels.h"

/* The table, its products' entries NAME_cpu or NAME_bf16_cpu (P empty or
 * _bf16, MATMUL "f32" or "bf16"). */
#define KERN_CPU_TABLE(NAME, P, MATMUL) { \
	.name = NAME, \
	.matmul = MATMUL, \
	.encoder_forward = encoder_forward_cpu, \
	.encoder_backward = encoder_backward_cpu, \
	.layernorm_forward = layernorm_forward_cpu, \
	.layernorm_backward = layernorm_backward_cpu, \
	.matmul_forward = matmul_forward##P##_cpu, \
	.matmul_backward = matmul_backward##P##_cpu, \
	.attention_forward = attention_forward_cpu, \
	.attention_backward = attention_backward_cpu, \
	.gelu_forward = gelu_forward_cpu, \
	.gelu_backward = gelu_backward_cpu, \
	.residual_forward = residual_forward_cpu, \
	.head_forward = head_forward##P##_cpu, \
	.head_backward = head_backward##P##_cpu, \
	.crossentropy_forward = crossentropy_forward_cpu, \
	.crossentropy_backward = crossentropy_backward_cpu, \
	.attention_decode = attention_decode_cpu, \
	.panel_bytes = panel_bytes_cpu, \
	.panel_pack = panel_pack_cpu, \
	.panel_column = panel_column_cpu, \
	.matmul_panel = matmul_panel_cpu, \
	.rmsnorm_forward = rmsnorm_forward_cpu, \
	.rmsnorm_backward = rmsnorm_backward_cpu, \
	.linear_forward = linear_forward##P##_cpu, \
	.linear_backward = linear_backward##P##_cpu, \
	.rope_forward = rope_forward_cpu, \
	.rope_backward = rope_backward_cpu, \
	.gqa_forward = gqa_forward_cpu, \
	.gqa_backward = gqa_backward_cpu, \
	.gqa_decode = gqa_decode_cpu, \
	.swiglu_forward = swiglu_forward_cpu, \
	.swiglu_backward = swiglu_backward_cpu, \
	.relu2_forward = relu2_forward_cpu, \
	.relu2_backward = relu2_backward_cpu, \
	.adamw = adamw_cpu, \
	.muon = muon_cpu, \
	.sum_squares = sum_squares_cpu, \
	.scale = scale_cpu, \
	.mem_alloc = mem_alloc_cpu, \
	.mem_free = mem_free_cpu, \
	.mem_zero = mem_zero_cpu, \
	.copy_h2d = copy_cpu, \
	.copy_d2h = copy_cpu, \
	.copy_d2d = copy_cpu, \
	.host_memory = 1, \
}

const kern_ops kern_cpu = KERN_CPU_TABLE("cpu", , "f32");
#ifndef SLUICE_REAL_DOUBLE
const kern_ops kern_cpu_bf16 = KERN_CPU_TABLE("cpu-bf16", _bf16, "bf16");
#endif

#include <cblas.h>
#include <omp.h>

void kern_cpu_threads(int n)
{
	omp_set_num_threads(n);
	openblas_set_num_threads(n);
}
