"""tutor: an offline terminal tutor for "Eight Things to Know about Large Language Models"."""

__version__ = "0.1.0"
