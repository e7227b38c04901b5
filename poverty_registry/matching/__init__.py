"""Nightly cross-department matching (比对, DOMAIN §8): inbox → snapshots → linkage → differences → work items."""
