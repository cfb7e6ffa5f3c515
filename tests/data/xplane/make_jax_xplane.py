#!/usr/bin/env python3
"""Writes jax_mlp_train_gpu.xplane.pb, the JAX test trace of tests/trace.

No JAX runs here (this machine has neither JAX nor a GPU), so the file is
built field by field after the layout `jax.profiler.trace()` writes on a GPU
(jaxlib 0.4.x; docs/trace-formats.md §1.2 and §2.6 say what each part is):

  XSpace
    /host:CPU         thread `python3`: StepTraceAnnotation("train", step_num=k)
                      markers; a Python tracer frame; PjitFunction(train_step)
                      > PjRtStreamExecutorLoadedExecutable::ExecuteHelper >
                      cuLaunchKernel / cuMemcpyDtoHAsync calls with correlation_id
    /device:GPU:0     line `Stream #14(Compute)`: the kernels, with the stats the
                      CUPTI collector takes from XLA's annotations (hlo_op,
                      hlo_module as a ref_value, program_id, correlation_id and,
                      for most, the annotation's `prefix` + `name` name stack);
                      derived lines `XLA Ops` and `Steps` that repeat them
    /host:metadata    the module as an `Hlo Proto` stat (program id 42): the
                      name stacks of the kernels that carry no annotation
    Task Environment  profile_start_time (epoch ns)

A small MLP (Dense_0, Dense_1) trained for three steps: forward under
jvp(MLP), backward under transpose(jvp(MLP)), the loss under jvp(loss_fn),
the optimizer's update without scope. The protobuf is written by hand
(field numbers of tsl/profiler/protobuf/xplane.proto and xla/service/hlo.proto),
so the script needs only Python 3:

  python3 tests/data/xplane/make_jax_xplane.py tests/data/xplane/jax_mlp_train_gpu.xplane.pb
"""
import sys


def varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def vfield(f, v):
    return varint(f << 3) + varint(v)


def bfield(f, b):
    if isinstance(b, str):
        b = b.encode()
    return varint((f << 3) | 2) + varint(len(b)) + b


class Plane:
    def __init__(self, plane_id, name):
        self.id, self.name = plane_id, name
        self.lines, self.event_md, self.stat_md, self.stats = [], {}, {}, []

    def stat_id(self, name):
        if name not in self.stat_md:
            self.stat_md[name] = len(self.stat_md) + 1
        return self.stat_md[name]

    def stat(self, name, value):
        """int → int64_value; ('uint', v); ('ref', s) → ref_value; bytes → bytes_value; str."""
        body = vfield(1, self.stat_id(name))
        if isinstance(value, tuple) and value[0] == "uint":
            body += vfield(3, value[1])
        elif isinstance(value, tuple) and value[0] == "ref":
            body += vfield(7, self.stat_id(value[1]))
        elif isinstance(value, int):
            body += vfield(4, value)
        elif isinstance(value, bytes):
            body += bfield(6, value)
        else:
            body += bfield(5, value)
        return body

    def event_id(self, name, stats=()):
        if name not in self.event_md:
            self.event_md[name] = (len(self.event_md) + 1, list(stats))
        return self.event_md[name][0]

    def serialize(self):
        out = vfield(1, self.id) + bfield(2, self.name)
        for line in self.lines:
            out += bfield(3, line.serialize())
        for name, (i, stats) in self.event_md.items():
            md = vfield(1, i) + bfield(2, name) + b"".join(bfield(5, s) for s in stats)
            out += bfield(4, vfield(1, i) + bfield(2, md))
        for name, i in self.stat_md.items():
            out += bfield(5, vfield(1, i) + bfield(2, vfield(1, i) + bfield(2, name)))
        for s in self.stats:
            out += bfield(6, s)
        return out


class Line:
    def __init__(self, plane, line_id, name, timestamp_ns):
        self.plane, self.id, self.name, self.ts = plane, line_id, name, timestamp_ns
        self.events = []
        plane.lines.append(self)

    def event(self, event_name, start_ns, dur_ns, **stats):
        # offset from the line's start, in ps
        body = vfield(1, self.plane.event_id(event_name)) + vfield(2, (start_ns - self.ts) * 1000)
        body += vfield(3, dur_ns * 1000)
        for k, v in stats.items():
            body += bfield(4, self.plane.stat(k, v))
        self.events.append(body)

    def serialize(self):
        out = vfield(1, self.id) + bfield(2, self.name) + vfield(3, self.ts)
        return out + b"".join(bfield(4, e) for e in self.events)


PROGRAM = 42
MODULE = "jit_train_step"
PREFIX = "jit(train_step)/jit(main)"

# (kernel, hlo_op, annotation name or None (then the HLO module has it), duration µs)
KERNELS = [
    ("cutlass_80_tensorop_s1688gemm_128x64_32x3_nn_align4", "cublas-gemm.1",
     "jvp(MLP)/Dense_0/dot_general", 40),
    ("loop_add_max_fusion", "loop_add_max_fusion", "jvp(MLP)/Dense_0/add", 8),
    ("cutlass_80_tensorop_s1688gemm_64x64_32x3_nn_align4", "cublas-gemm.3",
     "jvp(MLP)/Dense_1/dot_general", 25),
    ("input_reduce_fusion", "input_reduce_fusion", None, 12),
    ("cutlass_80_tensorop_s1688gemm_64x64_32x3_tn_align4", "cublas-gemm.5", None, 30),
    ("cutlass_80_tensorop_s1688gemm_64x64_32x3_nt_align4", "cublas-gemm.6",
     "transpose(jvp(MLP))/Dense_1/dot_general", 30),
    ("input_reduce_select_fusion", "input_reduce_select_fusion",
     "transpose(jvp(MLP))/Dense_0/reduce_sum", 10),
    ("cutlass_80_tensorop_s1688gemm_128x64_32x3_tn_align4", "cublas-gemm.8",
     "transpose(jvp(MLP))/Dense_0/dot_general", 45),
    ("loop_multiply_add_fusion", "loop_multiply_add_fusion", "mul", 15),
]


def hlo_proto():
    def instr(name, op_name=None, called=()):
        body = bfield(1, name) + bfield(2, "fusion" if "fusion" in name else "custom-call")
        if op_name:
            body += bfield(7, bfield(2, op_name))  # OpMetadata.op_name
        if called:
            body += bfield(38, b"".join(varint(c) for c in called))  # packed ids
        return bfield(2, body)

    fused = bfield(1, "fused_reduce") + vfield(5, 7)
    fused += instr("reduce.1", PREFIX + "/jvp(loss_fn)/reduce_sum")
    fused += instr("integer_pow.2", PREFIX + "/jvp(loss_fn)/integer_pow")
    main = bfield(1, "main") + vfield(5, 8)
    main += instr("input_reduce_fusion", None, called=[7])
    main += instr("cublas-gemm.5", PREFIX + "/transpose(jvp(MLP))/Dense_1/dot_general")
    module = bfield(1, MODULE) + vfield(5, PROGRAM) + bfield(3, fused) + bfield(3, main)
    return bfield(1, module)  # HloProto.hlo_module


def main(path):
    start_ns = 1_717_171_717_000_000_000
    host = Plane(0, "/host:CPU")
    py = Line(host, 18231, "python3", 1_000)
    gpu = Plane(1, "/device:GPU:0")
    stream = Line(gpu, 14, "Stream #14(Compute)", 1_000)
    xla_ops = Line(gpu, 10_002, "XLA Ops", 1_000)
    steps_line = Line(gpu, 10_000, "Steps", 1_000)
    for k in range(3):
        t0 = 100_000 + k * 2_000_000
        py.event("train", t0, 1_800_000, step_num=k)
        py.event("$train.py:33 train_step", t0 + 2_000, 400_000)
        py.event("PjitFunction(train_step)", t0 + 5_000, 300_000)
        py.event("PjRtStreamExecutorLoadedExecutable::ExecuteHelper", t0 + 20_000, 270_000)
        device_t = t0 + 60_000
        step_start = device_t
        for i, (kernel, hlo_op, name, dur_us) in enumerate(KERNELS):
            corr = 1000 * k + i + 1
            py.event("cuLaunchKernel", t0 + 30_000 + i * 20_000, 5_000, correlation_id=corr)
            stats = dict(correlation_id=corr, hlo_op=hlo_op, hlo_module=("ref", MODULE),
                         program_id=PROGRAM)
            if name is not None:
                stats.update(prefix=PREFIX, name=name)
            stream.event(kernel, device_t, dur_us * 1000, **stats)
            xla_ops.event(hlo_op, device_t, dur_us * 1000)
            device_t += dur_us * 1000 + 2_000
        # The loss copied back: its launch is all it has.
        corr = 1000 * k + 99
        py.event("cuMemcpyDtoHAsync", t0 + 250_000, 4_000, correlation_id=corr)
        stream.event("MemcpyDtoH", device_t, 3_000, correlation_id=corr)
        steps_line.event(str(k), step_start, device_t + 3_000 - step_start)
        if k == 0:
            # A kernel XLA did not annotate (an autotuner's checker): nothing to place it by.
            stream.event("redzone_checker", t0 + 1_500_000, 2_000)
    meta = Plane(2, "/host:metadata")
    meta.event_md[MODULE] = (PROGRAM, [meta.stat("Hlo Proto", hlo_proto())])
    env = Plane(3, "Task Environment")
    env.stats.append(env.stat("profile_start_time", ("uint", start_ns)))
    env.stats.append(env.stat("profile_stop_time", ("uint", start_ns + 6_500_000)))
    space = b"".join(bfield(1, p.serialize()) for p in (host, gpu, meta, env))
    space += bfield(4, "gpu-host")
    with open(path, "wb") as f:
        f.write(space)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "jax_mlp_train_gpu.xplane.pb")
