"""Work done away from the stream: training, evaluation and studies. Never imported by the worker."""
