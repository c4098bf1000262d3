"""Census preprocessing as a SageMaker Processing script: read the CSV from the input channel,
clean and encode it with pandas and scikit-learn, and write train and test feature sets.

Runs unchanged on SageMaker's scikit-learn image and on Kiln.
"""
import argparse
import os

import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import KBinsDiscretizer, OneHotEncoder, StandardScaler

INPUT_DIR = "/opt/ml/processing/input"
NUMERIC = ["age", "num persons worked for employer", "capital gains", "capital losses",
           "dividends from stocks"]
CATEGORICAL = ["education", "major industry code", "class of worker"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--train-test-split-ratio", type=float, default=0.3)
    args = parser.parse_args()

    csv_files = [f for f in os.listdir(INPUT_DIR) if f.endswith(".csv")]
    print(f"Reading {csv_files} from {INPUT_DIR}")
    df = pd.concat(pd.read_csv(os.path.join(INPUT_DIR, f)) for f in csv_files)
    df = df.dropna().drop_duplicates()
    labels = (df["income"].str.strip() == "50000+.").astype(int)
    features = df[NUMERIC + CATEGORICAL]

    split = args.train_test_split_ratio
    print(f"Splitting {len(df)} rows into train and test with ratio {split}")
    x_train, x_test, y_train, y_test = train_test_split(features, labels, test_size=split,
                                                        random_state=0)
    transformer = make_column_transformer(
        (KBinsDiscretizer(encode="onehot-dense", n_bins=10), ["age"]),
        (StandardScaler(), NUMERIC[1:]),
        (OneHotEncoder(sparse_output=False, handle_unknown="ignore"), CATEGORICAL),
    )
    train_features = transformer.fit_transform(x_train)
    test_features = transformer.transform(x_test)
    print(f"Train features shape: {train_features.shape}; test features shape: {test_features.shape}")

    for name, x, y in (("train", train_features, y_train), ("test", test_features, y_test)):
        out_dir = f"/opt/ml/processing/{name}"
        os.makedirs(out_dir, exist_ok=True)
        pd.DataFrame(x).to_csv(os.path.join(out_dir, f"{name}_features.csv"), header=False,
                               index=False)
        y.to_csv(os.path.join(out_dir, f"{name}_labels.csv"), header=False, index=False)
        print(f"Wrote {len(y)} rows to {out_dir}")


if __name__ == "__main__":
    main()
