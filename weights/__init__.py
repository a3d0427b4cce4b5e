"""restore's shipped weights: ``models.json`` (the registry manifest), ``*.safetensors`` and model cards."""
