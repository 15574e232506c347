"""Offline jobs, one dataclass with ``run()`` each: ``EvaluateJob``, ``TrainJob``."""
