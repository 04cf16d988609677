"""Optimisation (partie 2) : fonctions de coût, règles de mise à jour pures, optimiseurs
``torch.optim`` construits dessus, trajectoires et animations."""

from profond.optim.objectives import (
    MLPSlice,
    Objective,
    ill_conditioned_quadratic,
    logistic_loss,
    logistic_loss_grad,
    logistic_loss_hessian,
    logistic_minimum,
    logistic_objective,
    make_logistic_data,
    make_mlp_slice,
    mlp_slice_grad,
    mlp_slice_loss,
    quadratic_loss,
    quadratic_loss_grad,
    quadratic_objective,
    rosenbrock,
    rosenbrock_grad,
    rosenbrock_objective,
)
from profond.optim.optimizers import SGD, Adam, AdamW, RMSprop
from profond.optim.rules import (
    AdamState,
    MomentumState,
    RMSpropState,
    adam_step,
    adamw_step,
    bias_correction,
    first_moment,
    gd_step,
    minibatch_indices,
    momentum_step,
    nesterov_step,
    rmsprop_step,
    second_moment,
    sgd_step,
    velocity,
)
from profond.optim.trajectory import Trajectory, run_trajectory

__all__ = [name for name in dir() if not name.startswith("_")]
