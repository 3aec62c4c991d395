//! The playground's settings: the widgets and the GAN configuration they describe.

use super::{Data, Z};
use crate::dom;
use margan::gan::GanConfig;
use margan::toy::Toy;
use margan::{Form, GanLoss, GradientPenalty, Norm, Where};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlInputElement, HtmlSelectElement};

pub(super) struct Controls {
    data: HtmlSelectElement,
    loss: HtmlSelectElement,
    norm: HtmlSelectElement,
    form: HtmlSelectElement,
    weight: HtmlInputElement,
    lr_d: HtmlInputElement,
    lr_g: HtmlInputElement,
}
fn select(
    parent: &Element,
    role: &str,
    label: &str,
    options: &[(&str, &str)],
    chosen: &str,
) -> Result<HtmlSelectElement, JsValue> {
    let l = dom::text(parent, "label", &[], label);
    let s = dom::child(&l, "select", &[("data-role", role)]);
    for (value, text) in options {
        let o = dom::text(&s, "option", &[("value", value)], text);
        if *value == chosen {
            o.set_attribute("selected", "")?;
        }
    }
    s.dyn_into().map_err(Into::into)
}

fn number(
    parent: &Element,
    role: &str,
    label: &str,
    value: &str,
    step: &str,
) -> Result<HtmlInputElement, JsValue> {
    let l = dom::text(parent, "label", &[], label);
    dom::child(
        &l,
        "input",
        &[
            ("type", "number"),
            ("data-role", role),
            ("value", value),
            ("step", step),
            ("min", "0"),
        ],
    )
    .dyn_into()
    .map_err(Into::into)
}

impl Controls {
    /// The setting widgets, in `bar`: data, loss, penalty norm and form, λ, learning rates.
    pub(super) fn build(bar: &Element) -> Result<Controls, JsValue> {
        let data = select(
            bar,
            "data",
            "data ",
            &[
                ("8gaussians", "8 Gaussians"),
                ("25gaussians", "25 Gaussians"),
                ("ring", "ring"),
                ("swissroll", "swiss roll"),
                ("drawn", "draw your own"),
            ],
            "8gaussians",
        )?;
        let losses: Vec<(&str, &str)> = GanLoss::ALL.iter().map(|l| (l.name(), l.name())).collect();
        let loss = select(bar, "loss", "loss ", &losses, "hinge")?;
        let norm = select(
            bar,
            "norm",
            "gradient norm ",
            &[("none", "none"), ("l1", "L1"), ("l2", "L2"), ("linf", "L∞")],
            "linf",
        )?;
        let form = select(
            bar,
            "form",
            "form ",
            &[("hinge", "hinge max(0,‖g‖−1)"), ("ls", "LS (‖g‖−1)²")],
            "hinge",
        )?;
        let weight = number(bar, "lambda", "λ ", "10", "1")?;
        let lr_d = number(bar, "lr-d", "critic lr ", "0.001", "0.0001")?;
        let lr_g = number(bar, "lr-g", "generator lr ", "0.001", "0.0001")?;
        Ok(Controls {
            data,
            loss,
            norm,
            form,
            weight,
            lr_d,
            lr_g,
        })
    }

    pub(super) fn data(&self) -> Data {
        match self.data.value().as_str() {
            "ring" => Data::Toy(Toy::Ring),
            "8gaussians" => Data::Toy(Toy::EightGaussians),
            "25gaussians" => Data::Toy(Toy::TwentyFiveGaussians),
            "swissroll" => Data::Toy(Toy::SwissRoll),
            _ => Data::Drawn,
        }
    }

    pub(super) fn config(&self) -> Result<GanConfig, String> {
        let loss: GanLoss = self.loss.value().parse().map_err(|e| format!("{e}"))?;
        let positive = |i: &HtmlInputElement, what: &str| {
            let v = i.value_as_number();
            if v.is_finite() && v >= 0.0 {
                Ok(v)
            } else {
                Err(format!("{what} must be a number ≥ 0"))
            }
        };
        let weight = positive(&self.weight, "λ")?;
        let norm = match self.norm.value().as_str() {
            "l1" => Some(Norm::L1),
            "l2" => Some(Norm::L2),
            "linf" => Some(Norm::Linf),
            _ => None,
        };
        let form = if self.form.value() == "ls" {
            Form::Ls
        } else {
            Form::Hinge
        };
        Ok(GanConfig {
            loss,
            penalty: norm.map(|norm| GradientPenalty {
                norm,
                form,
                at: Where::Interpolates,
                weight,
            }),
            lr_d: positive(&self.lr_d, "critic learning rate")?,
            lr_g: positive(&self.lr_g, "generator learning rate")?,
            beta1: 0.5,
            beta2: 0.9,
            d_steps: 1,
            z_dim: Z,
        })
    }
}
