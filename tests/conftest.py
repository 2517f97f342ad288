import torch

# The structures in the tests are tiny: intra-op threads only add overhead, and
# on a 2-core CI machine they contend with each other.
torch.set_num_threads(1)
