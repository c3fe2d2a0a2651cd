"""The flagging bot: plan the label and comment each ticket should carry, render, apply."""
