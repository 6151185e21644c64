//! Sign up: name, email and a strong password; a verification link goes out by email.

use crate::routes::page::Page;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::auth::password;
use crate::domain::{EmailAddress, NewPassword, PersonName};
use crate::email::worker::OutboxSignal;
use crate::error::AppError;
use crate::ops;
use crate::routes::layout::{FieldErrors, Layout};
use crate::routes::{render, see_other};

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct SignupForm {
    pub name: String,
    pub email: String,
    pub password: String,
}

#[derive(Template)]
#[template(path = "auth/signup.html")]
struct SignupPage {
    layout: Layout,
    name: String,
    email: String,
    errors: FieldErrors,
}

pub async fn get(cx: Page) -> Result<HttpResponse, AppError> {
    let Page { auth, .. } = &cx;
    if auth.user.is_some() {
        return Ok(see_other("/orgs"));
    }
    let layout = cx.layout("Create your account").await?;
    render(
        StatusCode::OK,
        &SignupPage {
            layout,
            name: String::new(),
            email: String::new(),
            errors: FieldErrors::default(),
        },
    )
}

pub async fn post(
    cx: Page,
    outbox: web::Data<OutboxSignal>,
    CsrfForm(form): CsrfForm<SignupForm>,
) -> Result<HttpResponse, AppError> {
    let Page {
        pool,
        settings,
        auth,
        ..
    } = &cx;
    let mut errors = FieldErrors::default();
    let name = errors.check("name", PersonName::parse(&form.name));
    let email = errors.check("email", EmailAddress::parse(&form.email));
    let password = errors.check(
        "password",
        NewPassword::parse(&form.password, &form.name, &form.email),
    );
    let (Some(name), Some(email), Some(password)) = (name, email, password) else {
        return form_again(&cx, form, errors).await;
    };
    let hash = password::hash(password.secret().clone()).await?;
    // The same answer whether or not the address already has an account (DESIGN §7): the
    // holder of a taken address is emailed instead, and nobody is signed in here.
    ops::accounts::sign_up(
        pool,
        settings,
        &outbox,
        &auth.ctx(),
        name,
        email.clone(),
        hash,
    )
    .await?;
    let layout = cx.layout("Check your email").await?;
    render(
        StatusCode::OK,
        &SentPage {
            layout,
            email: email.as_str().to_string(),
        },
    )
}

#[derive(Template)]
#[template(path = "auth/signup_sent.html")]
struct SentPage {
    layout: Layout,
    email: String,
}

async fn form_again(
    cx: &Page,
    form: SignupForm,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let layout = cx.layout("Create your account").await?;
    render(
        StatusCode::UNPROCESSABLE_ENTITY,
        &SignupPage {
            layout,
            name: form.name,
            email: form.email,
            errors,
        },
    )
}
