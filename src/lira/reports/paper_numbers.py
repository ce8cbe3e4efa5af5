"""The paper's own numbers (Carlini et al., IEEE S&P 2022, Tables I-III), in %, shown next to ours when
an experiment runs on the paper's dataset. None where the paper has no number."""

# Table I, online attacks, 256 shadow models: (TPR @ 0.001 % FPR, TPR @ 0.1 % FPR, balanced accuracy)
TABLE_1 = {
    "cifar10": {
        "global_threshold": (0.0, 0.0, 59.4),
        "shokri": (0.0, 0.3, 59.6),
        "song_mittal": (0.0, 0.1, 59.5),
        "sablayrolles": (0.1, 1.7, 56.3),
        "watson": (0.1, 1.3, 59.1),
        "ye": (None, None, 60.3),
        "lira_online": (2.2, 8.4, 63.8),
    },
    "cifar100": {
        "global_threshold": (0.0, 0.0, 78.0),
        "shokri": (0.0, 1.6, 74.5),
        "song_mittal": (0.0, 1.4, 77.3),
        "sablayrolles": (0.8, 7.4, 69.1),
        "watson": (0.9, 5.4, 70.1),
        "ye": (None, None, 76.9),
        "lira_online": (11.2, 27.6, 82.6),
    },
}

# Table II, CIFAR-10, TPR @ 0.1 % FPR
TABLE_2 = {
    "cifar10": {
        "global_threshold": 0.0,
        "loss_logit": 0.1,
        "loss_logit_queries": 0.1,
        "watson": 1.3,
        "watson_logit": 4.7,
        "watson_logit_gaussian": 4.7,
        "watson_logit_gaussian_queries": 7.1,
        "sablayrolles": 1.7,
        "sablayrolles_logit": 1.9,
        "sablayrolles_logit_gaussian": 5.6,
        "sablayrolles_logit_gaussian_queries": 8.4,
    }
}

# Table III, CIFAR-10, online LiRA: queries -> (TPR @ 0.1 % FPR, TPR @ 0.001 % FPR)
TABLE_3 = {"cifar10": {1: (5.6, 1.0), 2: (7.5, 1.8), 18: (8.4, 2.2), 162: (8.4, 2.2)}}
