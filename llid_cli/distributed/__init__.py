"""Scale-out on the engines people already run clusters with.

- `pool`: a pool of Ray actors, each holding one loaded model.
- `ray_batch`: a batch's files spread over the pool.
- `ray_video`: a long video cut at its keyframes, its segments rendered over the pool.
- `ddp`: training on several processes or GPUs with PyTorch's DistributedDataParallel (torchrun).

Neither schedules anything itself: Ray places the actors and restarts dead ones, torchrun starts
and watches the training processes. Both reuse the single-process pieces (the batch plan, the
pipeline's per-file step, the trainer), so the guarantees of a local run carry over.
"""
