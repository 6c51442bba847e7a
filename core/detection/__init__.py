"""Object detection: box overlap and its losses (`boxes`), and how ranked detections become
average precision (`average_precision`, with the COCO evaluation in `coco`).

Boxes are (N, 4) in x1, y1, x2, y2 (torchvision's convention) unless a docstring says COCO's
x, y, width, height.
"""
