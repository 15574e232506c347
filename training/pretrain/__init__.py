"""Item pre-training that any model may start from.

- ``pmi_svd``: PMI matrix of item co-occurrence in user timelines, factorised
  with randomized SVD (LED paper, Algorithm 1 steps 1-2).
- ``item2vec``: skip-gram with negative sampling over time-ordered user
  sequences (attention-CF paper, section 3); needs torch.
"""
