"""The live arena: the rater types a prompt and two anonymous models answer on the fly.

``config`` reads the study file's ``[live]`` table; ``worker`` is the generation process that
owns the pipelines; ``hub`` is the server side of it (a bounded queue, the battles in flight);
``routes`` are the page's HTTP routes; ``page`` its HTML; ``summary`` the report's separate
live section. Live votes are stored apart from the controlled study (``arena/store/live.py``).
"""
