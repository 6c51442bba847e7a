"""What the framework does behind the user's back, made visible.

- `autograd`: a parsed expression evaluated under torch's define-by-run autograd, every node's
  grad_fn and incoming gradient recorded (Wengert 1964; Paszke et al. 2017).
- `modules`: an `nn.Module`'s forward rewritten as `torch.nn.functional` calls on its own
  tensors and attributes; what the module holds (`describe`).
- `api_export`: TensorFlow's `tf_export` decorator pattern: one object, many public names.
"""
