"""Every tolerance and step constant of gradref, in one place.

(Owned jointly: the reference suite's oracle tolerances are at the top; the finite-difference
checker's steps and tolerances follow.)
"""

__all__ = ["ELEMENTWISE_RTOL", "ELEMENTWISE_ATOL", "NETWORK_RTOL", "NETWORK_ATOL"]

#: Hand-written activation/loss derivatives against autograd's, elementwise: relative error,
#: plus an absolute floor of a few ulps of O(1) values for points where the derivative is ~0.
ELEMENTWISE_RTOL = 1e-12
ELEMENTWISE_ATOL = 1e-15

#: The reference's backward pass against autograd's gradient of the whole cost, per array:
#: ``max|analytic - oracle| <= NETWORK_RTOL * max|oracle| + NETWORK_ATOL``.
NETWORK_RTOL = 1e-10
NETWORK_ATOL = 1e-14
