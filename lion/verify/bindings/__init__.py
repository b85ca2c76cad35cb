"""Abstraction functions: each module here wraps one part of the kernel so that it
takes and returns spec values (`lion.verify.values`), for the `bind`s in `spec/`.

They only translate; every decision is made by the kernel code they call, so a
bug planted in the kernel shows up as a conformance failure.
"""
