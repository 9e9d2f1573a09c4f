"""Unit tests of encoders.py's text encoder blocks (a second; ONNX only):
  cd model && /usr/bin/python3 -m unittest tests.test_encoders
A graph quantized per batch must be marked embed_alone (the node then runs it one text at a time;
SentenceEncoderTests shows why on langchain4j's int8 MiniLM); a float graph must not.
"""
import json
import os
import sys
import tempfile
import unittest

import onnx
from onnx import TensorProto, helper

MODEL = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, MODEL)

import encoders  # noqa: E402


def sentence_graph(quantized):
    """A BERT-shaped toy: input_ids and attention_mask in, [N, L, 4] hidden states out; with `quantized`,
    its float path goes through DynamicQuantizeLinear as ONNX Runtime's dynamic quantization writes it."""
    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["N", "L"])
    mask = helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["N", "L"])
    hidden = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["N", "L", 4])
    nodes = [helper.make_node("Cast", ["input_ids"], ["ids_f"], to=TensorProto.FLOAT),
             helper.make_node("Unsqueeze", ["ids_f", "axis"], ["col"]),
             helper.make_node("Expand", ["col", "shape"], ["wide"])]
    if quantized:
        nodes += [helper.make_node("DynamicQuantizeLinear", ["wide"], ["q", "scale", "zero"]),
                  helper.make_node("DequantizeLinear", ["q", "scale", "zero"], ["last_hidden_state"])]
    else:
        nodes += [helper.make_node("Identity", ["wide"], ["last_hidden_state"])]
    constants = [helper.make_tensor("axis", TensorProto.INT64, [1], [2]), helper.make_tensor("shape", TensorProto.INT64, [3], [1, 1, 4])]
    graph = helper.make_graph(nodes, "toy", [ids, mask], [hidden], initializer=constants)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


class TextEncoderBlockTests(unittest.TestCase):
    def block(self, quantized):
        with tempfile.TemporaryDirectory() as tmp:
            path, tokenizer = os.path.join(tmp, "encoder.onnx"), os.path.join(tmp, "tokenizer.json")
            onnx.save(sentence_graph(quantized), path)
            with open(tokenizer, "w") as f:
                json.dump({"model": {"vocab": {}}}, f)
            out = os.path.join(tmp, "out")
            os.makedirs(out)
            return encoders.text_encoder(path, out, tokenizer=tokenizer)

    def test_a_graph_quantized_per_batch_embeds_each_text_alone(self):
        text_encoder, tokenizer = self.block(quantized=True)
        self.assertEqual(text_encoder["type"], "onnx")
        self.assertIs(text_encoder["embed_alone"], True)
        self.assertEqual(tokenizer["file"], "tokenizer.json")

    def test_a_float_graph_is_batched(self):
        text_encoder, _ = self.block(quantized=False)
        self.assertNotIn("embed_alone", text_encoder)
        self.assertEqual(text_encoder["dimensions"], 4)


if __name__ == "__main__":
    unittest.main()
