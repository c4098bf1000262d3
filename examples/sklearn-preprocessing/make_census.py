#!/usr/bin/python3
"""Writes a census-like CSV (the shape of the UCI adult/census-income data) for the examples.

Usage: make_census.py OUT.csv [ROWS]. Deterministic for a given row count.
"""
import csv
import random
import sys

COLUMNS = ["age", "education", "major industry code", "class of worker", "num persons worked for employer",
           "capital gains", "capital losses", "dividends from stocks", "income"]
EDUCATION = ["Bachelors degree", "High school graduate", "Masters degree", "Some college", "Doctorate"]
INDUSTRY = ["Retail trade", "Manufacturing", "Education", "Construction", "Finance"]
WORKER = ["Private", "Self-employed", "Federal government", "Local government", "Not in universe"]


def main():
    out = sys.argv[1]
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    rng = random.Random(42)
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for _ in range(rows):
            age = rng.randint(17, 90)
            education = rng.choice(EDUCATION)
            gains = rng.choice([0, 0, 0, rng.randint(100, 20000)])
            rich = (education in ("Masters degree", "Doctorate") and age > 30) or gains > 10000
            writer.writerow([age, education, rng.choice(INDUSTRY), rng.choice(WORKER), rng.randint(0, 6),
                             gains, rng.choice([0, 0, rng.randint(100, 2000)]), rng.randint(0, 5000),
                             "50000+." if rich or rng.random() < 0.05 else "- 50000."])


if __name__ == "__main__":
    main()
