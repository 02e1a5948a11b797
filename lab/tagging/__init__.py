"""Training, evaluation and the encoder study of the domain tagger (``streams.tagging``)."""
