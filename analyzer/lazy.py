"""`np`, imported on first use: `shapeproof report` never needs NumPy (only the reference forward
passes do), and importing it would add a tenth of a second to every start."""


class _LazyNumPy:
    def __getattr__(self, name):
        import numpy

        return getattr(numpy, name)


np = _LazyNumPy()
