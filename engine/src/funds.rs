//! Account money commands: deposits, withdrawals, leverage, margin mode, isolated margin,
//! and the operator's risk settings (risk parameters, backstop vault, insurance deposits).

use crate::account::{MarginMode, ACCOUNT_IN_LIQUIDATION};
use crate::command::AccountId;
use crate::event::{Event, InsuranceReason};
use crate::margin::{default_leverage, MarketRisk};
use crate::market::MarketId;
use crate::reject::Reject;
use crate::risk_params::RiskParams;
use crate::state::{Engine, Treasury};
use cascade_risk::Quote;

impl Engine {
    fn check_account(&self, account: AccountId) -> Result<(), Reject> {
        if account.0 >= self.limits().accounts_max {
            return Err(Reject::UnknownAccount);
        }
        Ok(())
    }

    fn check_deposit_room(&self, amount: Quote) -> Result<(), Reject> {
        if amount.0 <= 0 {
            return Err(Reject::AmountNotPositive);
        }
        let total = self
            .treasury
            .deposits
            .checked_add(amount.0)
            .ok_or(Reject::DepositsAboveMax)?;
        if total > Treasury::DEPOSITS_MAX {
            return Err(Reject::DepositsAboveMax);
        }
        Ok(())
    }

    pub(crate) fn deposit(&mut self, account: AccountId, amount: Quote) {
        if let Err(r) = self
            .check_account(account)
            .and_then(|()| self.check_deposit_room(amount))
        {
            return self.reject_event(account, 0, r);
        }
        self.treasury.deposits += amount.0;
        let c = &mut self.accounts.collateral[account.0 as usize];
        *c += amount.0;
        let collateral = Quote(*c);
        self.events.push(Event::Deposited {
            account,
            amount,
            collateral,
        });
        self.refresh_account(account.0);
    }

    pub(crate) fn withdraw(&mut self, account: AccountId, amount: Quote) {
        if let Err(r) = self.try_withdraw(account, amount) {
            self.reject_event(account, 0, r);
        }
    }

    fn try_withdraw(&mut self, account: AccountId, amount: Quote) -> Result<(), Reject> {
        self.check_account(account)?;
        if amount.0 <= 0 {
            return Err(Reject::AmountNotPositive);
        }
        if self.accounts.flags(account.0) & ACCOUNT_IN_LIQUIDATION != 0 {
            return Err(Reject::AccountInLiquidation);
        }
        let collateral = self.accounts.collateral(account.0);
        let pool = Self::health_of(&self.markets, &self.accounts, account.0, None);
        // What stays must cover initial margin (positions and resting orders) and must not
        // leave the account liquidatable; unrealized profit cannot be withdrawn.
        if amount.0 > collateral || pool.equity - i128::from(amount.0) < pool.initial {
            return Err(Reject::InsufficientCollateral);
        }
        self.treasury.withdrawals += amount.0;
        self.accounts.collateral[account.0 as usize] -= amount.0;
        let collateral = Quote(collateral - amount.0);
        self.events.push(Event::Withdrawn {
            account,
            amount,
            collateral,
        });
        self.refresh_account(account.0);
        Ok(())
    }

    pub(crate) fn set_leverage(&mut self, account: AccountId, market: MarketId, leverage: u16) {
        if let Err(r) = self.try_set_leverage(account, market, leverage) {
            self.reject_event(account, u64::from(market.0), r);
        }
    }

    fn try_set_leverage(
        &mut self,
        account: AccountId,
        market: MarketId,
        leverage: u16,
    ) -> Result<(), Reject> {
        self.check_account(account)?;
        let m = self.market(market).ok_or(Reject::UnknownMarket)?;
        let max = m.risk.as_ref().map_or(1, |r| r.params.leverage_max());
        if leverage == 0 || u32::from(leverage) > max {
            return Err(Reject::LeverageInvalid);
        }
        let lev0 = default_leverage(m);
        let h = match self.accounts.find(account.0, market.0) {
            Some(h) => h,
            None => self
                .accounts
                .find_or_create(account.0, market.0, lev0)
                .ok_or(Reject::PositionsLimit)?,
        };
        let before = self.accounts.get(h).leverage;
        self.accounts.get_mut(h).leverage = leverage;
        if leverage < before {
            // Lower leverage raises initial margin: it must still be covered.
            let pool = self.pool_health(h);
            if pool.equity < pool.initial {
                self.accounts.get_mut(h).leverage = before;
                return Err(Reject::InsufficientMargin);
            }
        }
        self.events.push(Event::LeverageSet {
            account,
            market,
            leverage,
        });
        Ok(())
    }

    pub(crate) fn set_margin_mode(
        &mut self,
        account: AccountId,
        market: MarketId,
        mode: MarginMode,
    ) {
        if let Err(r) = self.try_set_margin_mode(account, market, mode) {
            self.reject_event(account, u64::from(market.0), r);
        }
    }

    fn try_set_margin_mode(
        &mut self,
        account: AccountId,
        market: MarketId,
        mode: MarginMode,
    ) -> Result<(), Reject> {
        self.check_account(account)?;
        let m = self.market(market).ok_or(Reject::UnknownMarket)?;
        let lev0 = default_leverage(m);
        if let Some(h) = self.accounts.find(account.0, market.0) {
            let p = self.accounts.get(h);
            if p.size != 0
                || p.order_qty_buy != 0
                || p.order_qty_sell != 0
                || p.isolated_margin != 0
            {
                return Err(Reject::MarginModeLocked);
            }
        }
        let h = self
            .accounts
            .find_or_create(account.0, market.0, lev0)
            .ok_or(Reject::PositionsLimit)?;
        self.accounts.get_mut(h).mode = mode;
        self.events.push(Event::MarginModeSet {
            account,
            market,
            mode,
        });
        Ok(())
    }

    pub(crate) fn transfer_isolated(
        &mut self,
        account: AccountId,
        market: MarketId,
        amount: Quote,
    ) {
        if let Err(r) = self.try_transfer_isolated(account, market, amount) {
            self.reject_event(account, u64::from(market.0), r);
        }
    }

    fn try_transfer_isolated(
        &mut self,
        account: AccountId,
        market: MarketId,
        amount: Quote,
    ) -> Result<(), Reject> {
        self.check_account(account)?;
        self.market(market).ok_or(Reject::UnknownMarket)?;
        if amount.0 == 0 {
            return Err(Reject::AmountNotPositive);
        }
        if self.accounts.flags(account.0) & ACCOUNT_IN_LIQUIDATION != 0 {
            return Err(Reject::AccountInLiquidation);
        }
        let h = self
            .accounts
            .find(account.0, market.0)
            .ok_or(Reject::NotIsolated)?;
        if self.accounts.get(h).mode != MarginMode::Isolated {
            return Err(Reject::NotIsolated);
        }
        let collateral = self.accounts.collateral(account.0);
        if amount.0 > 0 {
            let cross = Self::health_of(&self.markets, &self.accounts, account.0, None);
            if amount.0 > collateral || cross.equity - i128::from(amount.0) < cross.initial {
                return Err(Reject::InsufficientCollateral);
            }
        } else {
            let out = amount.0.checked_neg().ok_or(Reject::Overflow)?;
            let iso = self.pool_health(h);
            let margin = self.accounts.get(h).isolated_margin;
            if out > margin || iso.equity - i128::from(out) < iso.initial {
                return Err(Reject::InsufficientCollateral);
            }
        }
        self.accounts.collateral[account.0 as usize] -= amount.0;
        let p = self.accounts.get_mut(h);
        p.isolated_margin += amount.0;
        let isolated_margin = Quote(p.isolated_margin);
        let collateral = Quote(self.accounts.collateral(account.0));
        self.events.push(Event::IsolatedMarginSet {
            account,
            market,
            isolated_margin,
            collateral,
        });
        self.refresh_account(account.0);
        Ok(())
    }

    pub(crate) fn set_risk_params(&mut self, market: MarketId, params: &RiskParams) {
        let capacity = crate::restore::trigger_heap_capacity(self.limits());
        let Some(m) = self
            .markets
            .get_mut(usize::from(market.0))
            .and_then(Option::as_mut)
        else {
            return self.reject_event(AccountId(0), u64::from(market.0), Reject::UnknownMarket);
        };
        // A matching-only market's positions carry no money (no quote balance, no margin): they
        // cannot be margined after the fact, and would never be filed for liquidation.
        let unmargined_positions = m.risk.is_none() && m.open_interest != 0;
        if params.validate().is_err()
            || params.position_lots_max > m.spec.qty_max.0
            || unmargined_positions
        {
            return self.reject_event(AccountId(0), u64::from(market.0), Reject::InvalidRiskParams);
        }
        match m.risk.as_mut() {
            Some(r) => r.params = params.clone(),
            None => {
                m.risk = Some(MarketRisk::new(params.clone(), capacity));
                self.margined += 1;
            }
        }
        self.events.push(Event::RiskParamsSet { market });
        // New tiers move every trigger in the market.
        let accounts: Vec<u32> = self
            .accounts
            .positions_in(market.0)
            .map(|(a, _)| a)
            .collect();
        for a in accounts {
            self.refresh_account(a);
        }
    }

    pub(crate) fn set_backstop(&mut self, account: Option<AccountId>) {
        if let Some(a) = account {
            if let Err(r) = self.check_account(a) {
                return self.reject_event(a, 0, r);
            }
        }
        self.backstop = account.map(|a| a.0);
        self.events.push(Event::BackstopSet { account });
    }

    pub(crate) fn insurance_deposit(&mut self, amount: Quote) {
        if let Err(r) = self.check_deposit_room(amount) {
            return self.reject_event(AccountId(0), 0, r);
        }
        self.treasury.deposits += amount.0;
        self.treasury.insurance_fund += amount.0;
        self.events.push(Event::InsuranceFund {
            account: AccountId(0),
            delta: amount,
            balance: Quote(self.treasury.insurance_fund),
            reason: InsuranceReason::Deposit,
        });
    }
}
