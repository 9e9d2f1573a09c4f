# The training options of the bundled models, sourced by run.sh and run-bundled.sh (bash arrays).
#
# shipped: the default model (the model card's "what was tried" says how it was chosen): MobileNetV2
# features from three layers as the image backbone, its layers after block_12_add trained at a tenth
# of the learning rate for the image tower while the fused tower reads a second, frozen copy; semantic
# hash centres per subgroup (half equidistant bits, half ITQ bits of the subgroup's mean caption
# embedding); the fused tower over the image and text latents; five times the default quantization
# weight and the straight-through term; 50 epochs. run.sh's widths and baselines use it too.
shipped=(--epochs 50 --centres 1 --centres-kind semantic --fusion latents --pretrained-image 1 --pretrained-cnn 0
         --pretrained-layer block_12_expand_relu,block_13_expand_relu,block_14_expand_relu
         --pretrained-finetune block_12_add --pretrained-lr-scale 0.1 --pretrained-fused-frozen 1
         --quantization 0.5 --ste 1)

# accurate: the shipped configuration with nsfwjs's 1.4x-wide MobileNetV2 (its graph model, 128 px) as the
# image tower's backbone, while the fused tower's frozen copy stays the 1.0x MobileNetV2 (the wide one as the
# fused tower's features lost 2 to 3 points of fused MAP on the validation split: README.md, "What was tried").
accurate=(--epochs 50 --centres 1 --centres-kind semantic --fusion latents --pretrained-image 1 --pretrained-cnn 0
          --pretrained-backbone mobilenet_v2_mid --pretrained-size 128
          --pretrained-layer expanded_conv_12/expand/Relu6,expanded_conv_13/expand/Relu6,expanded_conv_14/expand/Relu6
          --pretrained-finetune expanded_conv_12/add --pretrained-lr-scale 0.1 --pretrained-fused-frozen 1
          --pretrained-fused-backbone mobilenet_v2
          --pretrained-fused-layer block_12_expand_relu,block_13_expand_relu,block_14_expand_relu
          --quantization 0.5 --ste 1 --bits 64)

# fast: the shipped configuration over langchain4j's int8-quantized all-MiniLM-L6-v2 (captions embedded one
# at a time, as the node runs a graph quantized per batch; the export carries that encoder as the model's own),
# with the pictures upsampled to 96 px instead of 128 for MobileNetV2 (about 0.56 of a picture's work, 1.3
# points of validation score), and the MobileNetV2 trunk shared by the image and fused heads quantized to int8
# (quantize_trunk.py; the heads train on its rows as the node computes them: README.md, "The `fast` model").
fast=("${shipped[@]}" --text-encoder minilm-int8 --pretrained-size 96 --int8-trunk 1 --bits 64)
