"""Text-to-image models: cards, backends and batched generation of image sets.

Light modules (no torch or diffusers, safe for the arena server): :mod:`models.cards` and
:mod:`models.manifest`. Heavy ones (need the ``generate`` extra): :mod:`models.backends`,
:mod:`models.tiny`; :mod:`models.generate` imports torch only when it runs a pipeline.
Nothing is imported here on purpose.
"""
