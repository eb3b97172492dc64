"""`python -m stylegan_seg_jax COMMAND ...`: the `stylegan-seg` command."""

from stylegan_seg_jax import commands

if __name__ == '__main__':
  commands.main()
