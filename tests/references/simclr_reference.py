"""A PyTorch re-creation of the reference's SimCLR iteration (test-only).

`ReferenceSimCLR.step` follows `SimCLRClustering.pretrain` of the authors'
code: L2-normalise each pixel's hypercolumn, take the sampled pixels of both
views, interleave them (s0, t0, s1, t1, ...) into a [C, 2B] matrix, project
its transpose with Linear(no bias) - BatchNorm1d (train mode) -
LeakyReLU - Linear(no bias), transpose back to [D, 2B]; fill a 2B x 2B
cosine-similarity matrix and a loss matrix element by element with the
reference's loops; sum the positive pairs' entries, divide by 2B; backward;
apex LARC + SGD with momentum.

The reference's two slips are switches, on when reproducing it:
`reference_similarity` compares rows of the [D, 2B] scores (its first 2B
projected channels) instead of columns (the samples), `reference_pairs`
takes the pairs (2k - 1, 2k) instead of (2k, 2k + 1).

It is fed our views instead of drawing them (as `swav_reference`). It runs
in float64.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from tests.references import swav_reference


def _t(a) -> torch.Tensor:
  return torch.tensor(np.asarray(a, np.float64))


class ReferenceSimCLR:
  """The projection and optimiser of the reference, in float64.

  Args:
    params: our SimCLR head parameters ({'kernel' [C, D], 'bn_scale',
      'bn_bias', 'kernel2' [D, D]}).
    lr, momentum, trust: SGD and LARC settings.
    temperature: tau.
    reference_similarity, reference_pairs: the reference's slips.
  """

  def __init__(self, params, *, lr: float, momentum: float, trust: float,
               temperature: float, reference_similarity: bool,
               reference_pairs: bool):
    c, d = np.shape(params['kernel'])
    self.projection = nn.Sequential(
        nn.Linear(c, d, bias=False), nn.BatchNorm1d(d), nn.LeakyReLU(),
        nn.Linear(d, d, bias=False)).double()
    with torch.no_grad():
      self.projection[0].weight.copy_(_t(params['kernel']).T)
      self.projection[1].weight.copy_(_t(params['bn_scale']))
      self.projection[1].bias.copy_(_t(params['bn_bias']))
      self.projection[3].weight.copy_(_t(params['kernel2']).T)
    self.params = [self.projection[0].weight, self.projection[1].weight,
                   self.projection[1].bias, self.projection[3].weight]
    self.buffers = [None] * len(self.params)
    self.lr, self.momentum, self.trust = lr, momentum, trust
    self.temperature = temperature
    self.reference_similarity = reference_similarity
    self.reference_pairs = reference_pairs
    self.similarity = nn.CosineSimilarity(dim=0)

  def loss(self, h_s: torch.Tensor, h_t: torch.Tensor,
           pixels) -> torch.Tensor:
    """The loss of one image: hypercolumns [C, R*R] of both views and
    ((coords_s [B, 2], valid_s [B]), (coords_t, valid_t))."""
    (cs, vs), (ct, vt) = pixels
    flat_s = F.normalize(swav_reference.gather_pixels(h_s, cs, vs), dim=0)
    flat_t = F.normalize(swav_reference.gather_pixels(h_t, ct, vt), dim=0)
    b = flat_s.shape[1]
    flat = torch.zeros(flat_s.shape[0], 2 * b, dtype=torch.float64)
    flat[:, ::2] = flat_s
    flat[:, 1::2] = flat_t
    scores = self.projection(flat.t()).t()        # [D, 2B]
    vectors = scores if self.reference_similarity else scores.t()
    n = 2 * b
    sim = torch.zeros(n, n, dtype=torch.float64)
    for i in range(n):
      for j in range(n):
        sim[i, j] = self.similarity(vectors[i], vectors[j])
    sim = sim / self.temperature
    losses = torch.zeros(n, n, dtype=torch.float64)
    for i in range(n):
      for j in range(n):
        den = torch.stack([torch.exp(sim[i, m]) for m in range(n)
                           if m != i]).sum()
        losses[i, j] = -torch.log(torch.exp(sim[i, j]) / den)
    if self.reference_pairs:
      pairs = [(2 * k - 1, 2 * k) for k in range(b)]
    else:
      pairs = [(2 * k, 2 * k + 1) for k in range(b)]
    total = torch.stack([losses[a, p] + losses[p, a] for a, p in pairs]).sum()
    return total / (2 * b)

  def step(self, h_s: torch.Tensor, h_t: torch.Tensor,
           pixels) -> tuple[float, list[np.ndarray]]:
    """One iteration; returns (loss, raw gradients in `params` order)."""
    self.projection.train()
    for p in self.params:
      p.grad = None
    loss = self.loss(h_s, h_t, pixels)
    loss.backward()
    grads = [p.grad.detach().clone().numpy() for p in self.params]
    swav_reference.apex_larc_sgd_step(self.params, self.buffers, lr=self.lr,
                                      momentum=self.momentum,
                                      trust=self.trust)
    return float(loss.detach()), grads

  def state(self) -> dict[str, np.ndarray]:
    """Our layout of the parameters and running statistics."""
    get = lambda t: t.detach().numpy().copy()
    return {'kernel': get(self.projection[0].weight).T,
            'bn_scale': get(self.projection[1].weight),
            'bn_bias': get(self.projection[1].bias),
            'kernel2': get(self.projection[3].weight).T,
            'mean': get(self.projection[1].running_mean),
            'var': get(self.projection[1].running_var)}

  def embed(self, h: torch.Tensor, train: bool) -> np.ndarray:
    """The reference's `predict_simclr_codes` scores [R*R, D] of one image's
    hypercolumn [C, R*R]; `train` keeps BatchNorm in train mode (the
    reference), else its running statistics."""
    self.projection.train(train)
    with torch.no_grad():
      out = self.projection(F.normalize(h, dim=0).t())
    self.projection.train()
    return out.numpy()
