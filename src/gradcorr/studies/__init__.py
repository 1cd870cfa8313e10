"""One module per study, one function per workflow stage, so that every stage also runs without Snakemake.

- `synthetic`: the gradient-correction paper on the billboard dataset (trained or published models);
  figures in `synthetic_plots`.
- `invivo`: its ChIP-seq half, with ensembles standing in for the ground truth; figures in `invivo_plots`.
- `consistency`: the consistency paper's grid of models and its KLDs; figures in `consistency_plots`.
- `model_runs`: the stages every study shares that train or run models (torch).
- `plotting`: what the figures of every study share.

The study modules import torch only inside the stages that train or run models, so that dataset,
table and figure jobs start without it.
"""
