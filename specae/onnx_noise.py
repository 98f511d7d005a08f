"""The random draws of an ONNX graph turned into inputs, so that numpy's generators feed them.

onnxruntime draws a ``RandomNormalLike`` node's noise from a generator of its own, seeded when the session
is made (``onnxruntime.set_seed`` before it) and advanced by every run; how it is seeded also depends on
the graph as loaded (a copy of the model saved after onnxruntime's optimisations draws other noise from
the same seed). Reproducible noise therefore cost a new session per seed: 0.23 s for piper's 63 MB model,
as long as synthesising the ten digit words with it. Here each such node becomes a slice of a new graph
input of the same name stem (``noise_dp``, ``noise``), cut to the shape the node would have drawn:

    RandomNormalLike(like)  ->  Slice(noise_input, Shape(like) - Shape(like), Shape(like))

and ``NoiseFeedingSession`` wraps one session of the edited model, filling those inputs with standard
normal noise from a numpy Generator at every run. One session then serves every seed, and the noise is
numpy's, the same for any onnxruntime version or worker schedule.

The model is read and written with protobuf (already installed: Chainer needs it) through a partial
schema of ``onnx.proto``: only the fields read or written here are declared (field numbers as in
onnx.proto3); protobuf keeps every other field as it was read and writes it back unchanged. The ``onnx``
package itself would pull numpy 2 (its ml_dtypes), which Chainer 7.8.1 cannot use.
"""
import functools

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

RANDOM_OP = "RandomNormalLike"
_FLOAT = 1  # onnx.TensorProto.FLOAT


@functools.lru_cache(maxsize=1)
def _model_class():
    """``ModelProto`` with the fields used here: graph(7) > node(1) {input(1), output(2), name(3),
    op_type(4), domain(7)}, input(11) {name(1), type(2) > tensor_type(1) {elem_type(1), shape(2) >
    dim(1) {dim_value(1), dim_param(2)}}}."""
    field = descriptor_pb2.FieldDescriptorProto
    schema = descriptor_pb2.FileDescriptorProto(name="specae_onnx_subset.proto", package="specae_onnx",
                                                syntax="proto2")

    def message(name, fields):
        made = schema.message_type.add(name=name)
        for field_name, number, kind, repeated, type_name in fields:
            declared = made.field.add(name=field_name, number=number, type=kind,
                                      label=field.LABEL_REPEATED if repeated else field.LABEL_OPTIONAL)
            if type_name:
                declared.type_name = ".specae_onnx." + type_name

    text, int32, int64, nested = field.TYPE_STRING, field.TYPE_INT32, field.TYPE_INT64, field.TYPE_MESSAGE
    message("Dimension", [("dim_value", 1, int64, False, None), ("dim_param", 2, text, False, None)])
    message("TensorShape", [("dim", 1, nested, True, "Dimension")])
    message("TensorType", [("elem_type", 1, int32, False, None), ("shape", 2, nested, False, "TensorShape")])
    message("Type", [("tensor_type", 1, nested, False, "TensorType")])
    message("ValueInfo", [("name", 1, text, False, None), ("type", 2, nested, False, "Type")])
    message("Node", [("input", 1, text, True, None), ("output", 2, text, True, None), ("name", 3, text, False, None),
                     ("op_type", 4, text, False, None), ("domain", 7, text, False, None)])
    message("Graph", [("node", 1, nested, True, "Node"), ("input", 11, nested, True, "ValueInfo")])
    message("Model", [("graph", 7, nested, False, "Graph")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(schema)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("specae_onnx.Model"))


def noise_as_inputs(model_bytes):
    """``(edited model bytes, input names)``: every ``RandomNormalLike`` node of the main graph (mean 0,
    scale 1, float: the nodes piper's VITS models have) replaced by a slice of a new float input of
    rank 3, named after the node (``/dp/RandomNormalLike`` -> ``noise_dp``). The nodes stay in order."""
    model = _model_class().FromString(model_bytes)
    graph = model.graph
    nodes, names = list(graph.node), []
    node_class = type(graph.node.add())
    del graph.node[:]
    for node in nodes:
        if node.op_type != RANDOM_OP or node.domain not in ("", "ai.onnx"):
            graph.node.append(node)
            continue
        like, drawn = node.input[0], node.output[0]
        name = "noise" + node.name.rsplit("/", 1)[0].replace("/", "_")
        shape, zeros = name + "/shape", name + "/zeros"
        graph.node.extend([
            node_class(input=[like], output=[shape], name=shape, op_type="Shape"),
            node_class(input=[shape, shape], output=[zeros], name=zeros, op_type="Sub"),
            node_class(input=[name, zeros, shape], output=[drawn], name=name + "/slice", op_type="Slice")])
        declared = graph.input.add(name=name)
        declared.type.tensor_type.elem_type = _FLOAT
        for axis in range(3):
            declared.type.tensor_type.shape.dim.add(dim_param="{}_{}".format(name, axis))
        names.append(name)
    return model.SerializeToString(), names


class NoiseFeedingSession(object):
    """An onnxruntime session of an edited model (``noise_as_inputs``) that fills its noise inputs at every
    ``run``: ``sizes(feed)`` gives the shape of each noise input for that run (at least the shape the
    graph will cut from it), ``rng`` the numpy Generator the standard normal noise comes from. Everything
    else is the session's own."""

    def __init__(self, session, sizes, rng):
        self.session, self.sizes, self.rng = session, sizes, rng

    def run(self, output_names, feed, *args, **kwargs):
        feed = dict(feed)
        for name, shape in self.sizes(feed).items():
            feed[name] = self.rng.standard_normal(shape, dtype=np.float32)
        return self.session.run(output_names, feed, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.session, name)
