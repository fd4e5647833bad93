"""The weekly briefing: after each H.4.1, what the Fed's balance sheet, the Treasury's account,
reverse repos and net liquidity did, the policy rate, the milestones and the regime."""
