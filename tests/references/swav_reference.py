"""A PyTorch re-creation of the reference's SwAV iteration (test-only).

`ReferenceSwAV.step` follows `SwAVClustering.pretrain` of the authors' code
line by line, for the linear projection head: re-normalise the prototype
rows in place (outside autograd); per patch, project the sampled
hypercolumn pixels, L2-normalise, score against the prototypes (with their
bias), compute codes with `sinkhorn_knopp` as coded (kernel domain,
exp(S / eps), 10 iterations, uniform marginals), the swapped loss at
temperature tau; average the patches; backward; an apex LARC
(trust coefficient, no clipping, eps 1e-8) + SGD-momentum step.

What it is fed instead of drawing it itself: the two views' generator
features and, per patch, the source pixel each sampled output pixel reads
(the rotation and flip expressed as coordinates; pixels rotated in from
outside read zeros, as torchvision's zero fill). It builds the hypercolumn
the reference way: every layer upsampled (nearest) to the output grid and
concatenated. It runs in float64.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def hypercolumn(feats: list[np.ndarray], res: int) -> torch.Tensor:
  """[C_total, R * R] float64: each [1, h, w, c] layer upsampled, stacked."""
  maps = [F.interpolate(torch.from_numpy(np.asarray(f, np.float64))
                        .permute(0, 3, 1, 2), (res, res), mode='nearest')
          for f in feats]
  return torch.cat(maps, dim=1)[0].flatten(1)


def gather_pixels(h: torch.Tensor, coords, valid) -> torch.Tensor:
  """[C, P]: the hypercolumn h [C, R*R] at source pixels coords [P, 2];
  invalid pixels (rotated in from outside the map) read zeros."""
  res = int(round(h.shape[1] ** 0.5))
  idx = torch.from_numpy(np.asarray(coords[:, 0] * res + coords[:, 1],
                                    np.int64))
  keep = torch.from_numpy(np.asarray(valid, np.float64))
  return h[:, idx] * keep[None]


def sinkhorn_knopp(scores: torch.Tensor, eps: float,
                   niters: int) -> torch.Tensor:
  """The reference's `sinkhorn_knopp` with uniform marginals, as coded."""
  q = torch.exp(scores / eps).T
  q = q / torch.sum(q)
  k, b = q.shape
  r, c = torch.ones(k, dtype=q.dtype) / k, torch.ones(b, dtype=q.dtype) / b
  for _ in range(niters):
    u = torch.sum(q, dim=1)
    q = q * (r / u).unsqueeze(1)
    q = q * (c / torch.sum(q, dim=0)).unsqueeze(0)
  return (q / torch.sum(q, dim=0, keepdim=True)).T


def apex_larc_sgd_step(params: list[torch.Tensor], buffers: list, *,
                       lr: float, momentum: float, trust: float) -> None:
  """apex `LARC(SGD(lr, momentum), trust, clip=False)`.step() on params with
  gradients; `buffers` holds the momentum buffers (None before the first
  step) and is updated in place."""
  with torch.no_grad():
    for i, p in enumerate(params):
      g = p.grad
      p_norm, g_norm = torch.norm(p), torch.norm(g)
      if p_norm != 0 and g_norm != 0:  # weight decay 0
        g = g * (trust * p_norm / (g_norm + 1e-8))
      buf = buffers[i]
      buf = g.clone() if buf is None else buf * momentum + g
      buffers[i] = buf
      p -= lr * buf


class ReferenceSwAV:
  """Projection, prototypes and optimiser of the reference, in float64.

  Args:
    projection: our kernel [C_total, D] (torch stores its transpose).
    prototypes: our {'kernel': [D, K], 'bias': [K]}.
    lr, momentum, trust: SGD and LARC settings.
    eps, niters, temperature: Sinkhorn and loss settings.
  """

  def __init__(self, projection, prototypes, *, lr: float, momentum: float,
               trust: float, eps: float, niters: int, temperature: float):
    t = lambda a: torch.tensor(np.asarray(a, np.float64))
    self.projection = t(projection).T.clone().requires_grad_(True)  # [D, C]
    self.weight = t(prototypes['kernel']).T.clone().requires_grad_(True)
    self.bias = t(prototypes['bias']).clone().requires_grad_(True)
    self.params = [self.projection, self.weight, self.bias]
    self.buffers = [None] * len(self.params)
    self.lr, self.momentum, self.trust = lr, momentum, trust
    self.eps, self.niters, self.temperature = eps, niters, temperature

  def loss(self, h_s: torch.Tensor, h_t: torch.Tensor,
           patches) -> torch.Tensor:
    """The loss of one image: hypercolumns [C, R*R] of both views and the
    patches ((coords_s, valid_s), (coords_t, valid_t)), [num_patches, P, ...]
    for this image."""
    (cs, vs), (ct, vt) = patches
    total = 0.0
    for p in range(cs.shape[0]):
      scores = []
      for flat in (gather_pixels(h_s, cs[p], vs[p]),
                   gather_pixels(h_t, ct[p], vt[p])):
        e = F.normalize(flat.T @ self.projection.T, p=2, dim=1)
        scores.append(e @ self.weight.T + self.bias)
      with torch.no_grad():
        q_s = sinkhorn_knopp(scores[0], self.eps, self.niters)
        q_t = sinkhorn_knopp(scores[1], self.eps, self.niters)
      p_s, p_t = scores[0] / self.temperature, scores[1] / self.temperature
      lst = torch.mean(torch.sum(q_s * F.log_softmax(p_t, dim=1), dim=1))
      lts = torch.mean(torch.sum(q_t * F.log_softmax(p_s, dim=1), dim=1))
      total = total - 0.5 * (lst + lts)
    return total / cs.shape[0]

  def step(self, h_s: torch.Tensor, h_t: torch.Tensor,
           patches) -> tuple[float, list[np.ndarray]]:
    """One iteration; returns (loss, the gradients after LARC scaling's
    input, i.e. the raw gradients [projection, weight, bias])."""
    with torch.no_grad():
      self.weight.copy_(F.normalize(self.weight, dim=1, p=2))
    for p in self.params:
      p.grad = None
    loss = self.loss(h_s, h_t, patches)
    loss.backward()
    grads = [p.grad.detach().clone().numpy() for p in self.params]
    apex_larc_sgd_step(self.params, self.buffers, lr=self.lr,
                       momentum=self.momentum, trust=self.trust)
    return float(loss.detach()), grads

  def state(self) -> dict[str, np.ndarray]:
    """Our layout: projection [C, D], prototype kernel [D, K], bias [K]."""
    return {'projection': self.projection.detach().numpy().T.copy(),
            'kernel': self.weight.detach().numpy().T.copy(),
            'bias': self.bias.detach().numpy().copy()}
