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
    mlp_slice_network_grad,
    quadratic_loss,
    quadratic_loss_grad,
    quadratic_objective,
    rosenbrock,
    rosenbrock_grad,
    rosenbrock_objective,
    slice_minima,
)
from profond.optim.optimizers import SGD, Adam, AdamW, RMSprop
from profond.optim.rules import (
    AdamState,
    MomentumState,
    RMSpropState,
    adam_step,
    adamw_step,
    bias_correction,
    effective_learning_rate,
    first_moment,
    gd_step,
    minibatch_indices,
    momentum_step,
    nesterov_lookahead,
    nesterov_step,
    nesterov_sutskever_step,
    rmsprop_step,
    second_moment,
    sgd_step,
    velocity,
)
from profond.optim.trajectory import (
    Trajectory,
    nesterov_forms,
    optimality_gap,
    run_from_circle,
    run_trajectory,
    start_on_circle,
)

__all__ = [name for name in dir() if not name.startswith("_")]
