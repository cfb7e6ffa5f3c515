#!/usr/bin/env python3
"""Writes bert_tiny_cuda.onnxruntime_profile.json, the ONNX Runtime test profile
of tests/trace.

ONNX Runtime is not installable here, so the profile is written after the
layout its profiler documents and writes (onnxruntime/core/common/profiler.cc,
EndProfiling; gpu_profiler_common.h, MergeEvents), for a BERT-tiny exported
with torch.onnx (node names carry the module scope:
/bert/encoder/layer.0/attention/self/query/MatMul) and run twice with
SessionOptions.enable_profiling on the CUDA execution provider:

- a bare JSON array, one event per line, keys in ONNX Runtime's order
  ("cat", "pid", "tid", "dur", "ts", "ph", "name", "args"), integer µs
  relative to the profiler's start;
- category Session: model_loading_uri, session_initialization, and per run
  model_run enclosing SequentialExecutor::Execute;
- category Node: per node `<name>_kernel_time` with args op_name, provider,
  node_index, sizes and shapes (`_fence_before` / `_fence_after` around it,
  here for the first node only), on the thread that ran it; shape nodes on
  the CPU execution provider;
- category Kernel: the CUDA kernels (CUPTI), pid and tid -1, args stream,
  grid/block sizes, op_name and parent_name (ONNX Runtime ≥ 1.17), with ts
  rewritten by ONNX Runtime to follow its node's start (ts + 1, then + each
  kernel's duration), durations real.

  python3 tests/data/onnxruntime/make_ort_profile.py tests/data/onnxruntime/bert_tiny_cuda.onnxruntime_profile.json
"""
import json
import sys

PID = 31337
TID = 31337

# (node name, op type, provider, kernels [(name, dur µs)], host dur µs)
NODES = [
    ("/bert/embeddings/Shape", "Shape", "CPUExecutionProvider", [], 3),
    ("/bert/embeddings/word_embeddings/Gather", "Gather", "CUDAExecutionProvider",
     [("void onnxruntime::cuda::_GatherKernel<float, long>(long, long, long, "
       "onnxruntime::cuda::fast_divmod, onnxruntime::cuda::fast_divmod, long const*, "
       "float const*, float*, int)", 6)], 21),
    ("/bert/embeddings/LayerNorm/LayerNormalization", "LayerNormalization",
     "CUDAExecutionProvider",
     [("void onnxruntime::cuda::cuApplyLayerNorm<float, float, float, false>(float*, float*, "
       "float*, float const*, int, int, float, float const*, float const*, float const*, "
       "float*, bool)", 5)], 18),
]
for part in ("query", "key", "value"):
    NODES += [
        (f"/bert/encoder/layer.0/attention/self/{part}/MatMul", "MatMul", "CUDAExecutionProvider",
         [("ampere_sgemm_32x32_sliced1x4_nn", 9)], 25),
        (f"/bert/encoder/layer.0/attention/self/{part}/Add", "Add", "CUDAExecutionProvider",
         [("void onnxruntime::cuda::_BinaryElementWiseSimple<true, true, float, float, float, "
           "onnxruntime::cuda::OP_Add<float, float, float>, 256, 4>(float const*, float const*, "
           "float*, onnxruntime::cuda::OP_Add<float, float, float> const&, int)", 3)], 14),
    ]
NODES += [
    ("/bert/encoder/layer.0/attention/self/MatMul", "MatMul", "CUDAExecutionProvider",
     [("ampere_sgemm_32x32_sliced1x4_tn", 7)], 24),
    ("/bert/encoder/layer.0/attention/self/Softmax", "Softmax", "CUDAExecutionProvider",
     [("void onnxruntime::cuda::softmax_warp_forward<float, float, float, 7, false, false>"
       "(float*, float const*, int, int, int, bool const*, bool)", 4)], 16),
    ("/bert/encoder/layer.0/output/dense/MatMul", "MatMul", "CUDAExecutionProvider",
     [("ampere_sgemm_64x32_sliced1x4_nn", 12), ("void splitKreduce_kernel<32, 16, int, float, "
                                                "float, float, float, true, false, false>"
                                                "(cublasSplitKParams<float>, float const*, "
                                                "float const*, float*, float const*, "
                                                "float const*, float const*, float const*, "
                                                "float*, void*, long, float*, int*)", 2)], 31),
    ("/bert/encoder/layer.0/output/LayerNorm/LayerNormalization", "LayerNormalization",
     "CUDAExecutionProvider",
     [("void onnxruntime::cuda::cuApplyLayerNorm<float, float, float, false>(float*, float*, "
       "float*, float const*, int, int, float, float const*, float const*, float const*, "
       "float*, bool)", 5)], 17),
    ("/bert/pooler/dense/Gemm", "Gemm", "CUDAExecutionProvider",
     [("ampere_sgemm_32x32_sliced1x4_tn", 6)], 22),
    ("/bert/pooler/activation/Tanh", "Tanh", "CUDAExecutionProvider",
     [("void onnxruntime::cuda::_UnaryElementWise<float, float, onnxruntime::cuda::OP_Tanh<float>, "
       "256, 4>(float const*, float*, onnxruntime::cuda::OP_Tanh<float>, int)", 2)], 12),
]


def event(cat, dur, ts, name, args, pid=PID, tid=TID):
    # ONNX Runtime writes raw JSON for object/array values, quotes the rest.
    parts = []
    for k, v in args.items():
        value = json.dumps(v, separators=(",", ":")) if isinstance(v, (dict, list)) else f'"{v}"'
        parts.append(f'"{k}" : {value}')
    return (f'{{"cat" : "{cat}","pid" :{pid},"tid" :{tid},"dur" :{dur},"ts" :{ts},"ph" : "X",'
            f'"name" :"{name}","args" : {{{",".join(parts)}}}}}')


def main(path):
    events = [event("Session", 41_207, 2, "model_loading_uri", {}),
              event("Session", 388_910, 41_241, "session_initialization", {})]
    for run in range(2):
        start = 500_000 + run * 10_000
        node_events, t = [], start + 60
        for index, (node, op, provider, kernels, host_dur) in enumerate(NODES):
            if index == 1:
                node_events.append(event("Node", 0, t, f"{node}_fence_before", {"op_name": op}))
            args = {"thread_scheduling_stats": {"main_thread": {"thread_pool_name": "session-1",
                                                                "thread_id": str(TID),
                                                                "block_size": [],
                                                                "sub_threads": []}}}
            args.update({"output_size": "4096", "parameter_size": "0", "activation_size": "4096",
                         "node_index": str(index), "input_type_shape": [{"float": [1, 8, 128]}],
                         "output_type_shape": [{"float": [1, 8, 128]}], "exec_plan_index": str(index),
                         "provider": provider, "op_name": op})
            node_events.append(event("Node", host_dur, t, f"{node}_kernel_time", args))
            increment = 1
            for kernel, dur in kernels:
                node_events.append(event("Kernel", dur, t + increment, kernel,
                                         {"stream": "7", "grid_x": "8", "grid_y": "1", "grid_z": "1",
                                          "block_x": "128", "block_y": "1", "block_z": "1",
                                          "op_name": op, "parent_name": f"{node}_kernel_time"},
                                         pid=-1, tid=-1))
                increment += dur
            if index == 1:
                node_events.append(event("Node", 0, t + host_dur, f"{node}_fence_after",
                                         {"op_name": op}))
            t += host_dur + 4
        events.append(event("Session", t + 30 - (start + 20), start + 20,
                            "SequentialExecutor::Execute", {}))
        events += node_events
        events.append(event("Session", t + 60 - start, start, "model_run", {}))
    with open(path, "w") as f:
        f.write("[\n" + ",\n".join(events) + "\n]\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bert_tiny_cuda.onnxruntime_profile.json")
