//! Rounding dust over millions of fills (the debug-build test runs 20,000): odd sizes, odd
//! prices, odd fee rates, funding and index moves on a market of 7 quantums per tick-lot, every
//! position closed at the end, and money conserved to the quantum.
//!
//! `cargo run --release -p cascade-engine --features sim --example rounding_dust -- 5000000`

use cascade_engine::sim::dust_run;

fn main() {
    let fills: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let (engine, made) = dust_run(fills, true);
    let t = engine.treasury();
    let collateral: i128 = (0..engine.accounts().len())
        .map(|a| {
            i128::from(
                engine
                    .accounts()
                    .collateral(u32::try_from(a).expect("small")),
            )
        })
        .sum();
    let held = collateral + i128::from(t.insurance_fund) + i128::from(t.fee_pool);
    let net = i128::from(t.deposits) - i128::from(t.withdrawals);
    println!("fills {made}");
    println!(
        "fee pool {} quantums, insurance fund (dust) {}",
        t.fee_pool, t.insurance_fund
    );
    println!(
        "held {held} == deposits - withdrawals {net}: {}",
        held == net
    );
    assert_eq!(held, net, "money not conserved");
    assert!(engine
        .accounts()
        .all_positions()
        .iter()
        .all(|p| p.size == 0 && p.quote == 0));
}
