"""White-box evidence on open weights: activation capture, probes and weight noise (issue 15).

Needs the `whitebox` extra (torch, transformers, peft); the black-box core never imports this package, so
`import unmask` and every black-box command work without torch (tests/test_architecture.py).

- `capture`: residual-stream activations at chosen layers and token positions for the exact prompts
  unmask renders, cached on disk by content hash.
- `probes`: directions (difference of means, logistic regression), AUROC and recall at a fixed
  false-positive rate with bootstrap intervals, random-direction baselines.
- `noise`: Gaussian noise on the weights with an exact restore (Tice et al., arXiv 2412.01784).
"""
